"""Media of imported items (images, audio, video, PDFs, time series): sniffed from their
bytes, checked against the caps, and rendered as PNG for Slack review DMs. Pure and
I/O-free: bytes in, facts and PNG bytes out."""
