"""feijian: features."""
