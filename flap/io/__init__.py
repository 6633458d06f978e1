"""Reading and writing media: images, audio through ffmpeg, and H.264/AAC video."""
