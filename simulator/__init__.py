"""feijian: simulator."""
