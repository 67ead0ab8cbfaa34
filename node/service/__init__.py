"""The use cases of a node, one small service each, held by the Node facade in node/core.py."""
