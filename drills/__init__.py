"""The drill suites: one module per SOP situation."""
