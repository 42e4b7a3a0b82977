import sys

from benchmarks import pinning

# Before benchmarks.run imports NumPy: OpenBLAS starts its pool at import, and threads keep
# the CPU mask they were started with.
pinning.pin_from_argv(sys.argv[1:])

from benchmarks.run import main  # noqa: E402

raise SystemExit(main())
