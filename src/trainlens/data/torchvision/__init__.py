"""MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100, read through torchvision from verified files only.

A run never downloads: it first checks every file against torchvision's own MD5 table and
otherwise fails with the command that fetches it; ``trainlens download`` is that command. One job
per module:

- :mod:`~trainlens.data.torchvision.sources`: which datasets, where torchvision lays out their
  files (``SOURCES``), and the ``data`` section that picks a subset (``TorchvisionConfig``);
- :mod:`~trainlens.data.torchvision.verify`: paths kept inside the data root, MD5s, and
  ``verify_files`` with errors that name each missing or wrong file;
- :mod:`~trainlens.data.torchvision.cache`: both splits decoded once, from the stamp's
  ``decoded.npz`` while the verified files are unchanged, else checked and decoded through
  torchvision;
- :mod:`~trainlens.data.torchvision.fetch`: ``download``, which fetches, verifies, stores the
  decoded copy and writes the stamp;
- :mod:`~trainlens.data.torchvision.load`: the configured subset as tensors
  (``load_torchvision``, the registry's ``loader``).

Importing this package imports none of them, and none imports torchvision until it must read
with it, so a job that reads the decoded copy never imports torchvision.
"""
