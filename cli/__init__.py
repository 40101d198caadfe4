"""The ``sopdrill`` command and the hand-run game day: the composition root.

It joins the harness (fixtures) with the reports and the SOP; it may import all three,
and nothing imports it (the arrows of docs/architecture.md; tests/test_arrows.py).
"""
