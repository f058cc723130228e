"""Training package for whalegui's fluke embedding model (Keras, VGG16 transfer, triplet loss).

Importing ``training`` does not import TensorFlow; the modules that need it import it themselves.
"""
