"""The Streamlit dashboard (``autotune ui``): read-only views of studies and their trials.

``ui.analysis`` computes what the pages show as typed values (pure, tested without Streamlit),
``ui.charts`` draws them, ``ui.data`` is the only I/O and ``ui.app`` the pages. Never imports
torch.
"""
