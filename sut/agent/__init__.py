"""The Ops Expert agent: the watchdog that takes over, within limits, when the Dispatcher is gone.

detector     SOP 2: online -> suspect -> offline -> recovering -> online, from observations
watch        SOP 2A.2/2A.3: the Dispatcher's API probe and the co-located process check
inbox        SOP 2A.1: signed heartbeats and tasks verified, answered as values (app maps HTTP)
gate         SOP 4: the action gate (green list only, only while offline, fail closed)
failclosed   an invalid policy: every action refused, the inbox shut, no loops
notifier     SOP 3: the backchannels in priority order, and the emergency-log marker
emlog        the emergency activity log (append-only, hash-chained, fsynced)
remediation  SOP 4: what the green list allows, planned from host facts and executed
resync       SOP 5: stop, upload the log until acknowledged, request an integrity check
incidents    while online: distress signals to the Dispatcher, once per outage
metrics      the Prometheus counters and mode gauge of ``GET /metrics``
service      the running agent: loops that feed the detector and act on its verdicts
app          the HTTP API over the service
"""
