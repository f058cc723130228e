"""whalegui: identify individual humpback whales from photographs of their tail flukes, offline."""

__version__ = "0.1.0"
