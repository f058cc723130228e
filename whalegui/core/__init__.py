"""The Qt-free core: photo loading, the ONNX embedder, the gallery and identification.

Nothing under ``whalegui.core`` imports PySide6 or TensorFlow.
"""
