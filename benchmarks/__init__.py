"""matdiff's benchmark suite: matdiff and its peers on the same workloads, in one process."""
