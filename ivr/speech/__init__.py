"""Text-level speech pieces: number normalisation of ASR results and intent recognition."""
