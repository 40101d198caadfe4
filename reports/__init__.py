"""Evidence to compliance artifacts. Imports sop only."""
