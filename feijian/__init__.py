"""feijian (飞检): inspection targeting for a medical-insurance fund."""

__version__ = "0.1.0"
