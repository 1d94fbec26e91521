"""feijian: serving."""
