"""feijian: adapters."""
