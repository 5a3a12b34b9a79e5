"""Scripted Q&A sets: loading them, judging answers by the published rules, and reporting."""
