"""The TTS engine: Kokoro-82M through kokoro-onnx, text chunking, normalization, WAV output."""
