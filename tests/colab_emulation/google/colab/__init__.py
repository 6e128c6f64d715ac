"""EMULATION of Colab's kernel-side package, for tests only: just what colab_jsalive relies on."""
