"""Search spaces for ``autotune study`` as YAML data; ``default.yaml`` is the shipped default."""
