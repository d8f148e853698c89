"""`python -m edgevit ...` (and `torchrun -m edgevit train ...`) run the same CLI."""

from edgevit.cli import main

main()
