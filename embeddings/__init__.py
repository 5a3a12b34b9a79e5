"""Text → vectors (``encoder``) and vectors → nearest neighbours (``vectorstore``)."""
