"""The subcommands of ``sopdrill``, one module each; cli/main.py only wires them.

A command module has ``NAME`` and ``HELP`` (str), ``add_arguments(parser)`` and
``run(args) -> int`` (the exit status); it raises a SopdrillError with a one-line
message for anything the user can fix, and cli/main.py prints it without a traceback.
"""
