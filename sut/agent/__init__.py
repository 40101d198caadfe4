"""The Ops Expert agent: the watchdog that takes over, within limits, when the Dispatcher is gone.

detector     SOP 2: online -> suspect -> offline -> recovering -> online, from observations
watch        SOP 2A.2/2A.3: the Dispatcher's API probe and the co-located process check
inbox        SOP 2A.1: signed heartbeats and tasks verified, answered as values (app maps HTTP)
gate         SOP 4: the action gate (green list only, only while offline, fail closed)
failclosed   an invalid policy: every action refused, the inbox shut, no loops
notifier     SOP 3: the backchannels in priority order, and the emergency-log marker
backchannel  what the Discord and Signal clients share with the notifier
emlog        the emergency activity log (append-only, hash-chained, fsynced; epochs, sealing)
facts        the host as the gate sees it: supervisord programs, disk, runaway processes
remediation  SOP 4: what the green list allows, planned from host facts and executed
inference    cell0 P1: a restarted Ollama lists its models and answers one test inference
resync       SOP 5: stop, upload the log until acknowledged, request an integrity check
resync_watch a re-sync the Dispatcher refuses past the Agent Operations RTO, escalated once
resolution   Notification Flow 5: a closed episode told on each channel its alert went out on
incidents    while online: distress signals to the Dispatcher, once per outage
slowness     cell0 P2: Ollama's health check slower than the bound, one P2 per episode
high_memory  cell0 P1: a process killed offline for holding memory over SOP 4's bar, one P1
metrics      the Prometheus counters and mode gauge of ``GET /metrics``
host_tools   the agent's hands on its host: the fact gatherer and the executor, built once
service      the running agent: loops that feed the detector and act on its verdicts
views        ``GET /v1/state``: the detector's state as the agent answers it
liveness     which of those loops still run: ``/healthz`` is degraded once one has ended
app          the HTTP API over the service; ``python -m sut.agent`` serves it

Nothing is imported here: the watchdog imports ``supervisor`` alone, and must not pay for
the whole agent at every start (issue 12, a topology's ``up``).
"""
