"""The system under test: the Offline Emergency SOP's components as real services.

dispatcher/  the Central Dispatcher (heartbeats, tasks, incident intake, log upload)
agent/       the Ops Expert watchdog (detector, notifier, action gate, remediation, re-sync)
standins/    Ollama, Discord REST and signal-cli-rest-api stand-ins with fault control
runtime/     what every service shares: settings from the environment, JSON logs, serving

Imports sop only; never the harness. Every exception it raises hangs from sop's
SopdrillError; the tree, this room's branch included, is drawn in sop/errors.py.
"""
