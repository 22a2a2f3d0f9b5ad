"""autotune: find the AWS Inferentia (inf1) deployment of a transformer model by emulation."""

__version__ = "0.1.0"
__all__ = ["__version__"]
