"""The Ops Expert agent: the watchdog that takes over, within limits, when the Dispatcher is gone.

detector     SOP 2: online -> suspect -> offline -> recovering -> online, from observations
gate         SOP 4: the action gate (green list only, only while offline, fail closed)
notifier     SOP 3: the backchannels in priority order, and the emergency-log marker
emlog        the emergency activity log (append-only, hash-chained, fsynced)
remediation  SOP 4: what the green list allows, planned from host facts and executed
resync       SOP 5: stop, upload the log until acknowledged, request an integrity check
service      the running agent: loops that feed the detector and act on its verdicts
"""
