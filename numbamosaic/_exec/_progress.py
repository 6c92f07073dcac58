"""Progress reporting for :func:`~numbamosaic._exec.run_work` (tqdm or any tqdm-like callable)."""


class _Sized:
    """Sized iterator over finished items, so tqdm-like callables know the total."""

    def __init__(self, results, n):
        self.results = results
        self.n = n

    def __len__(self):
        return self.n

    def __iter__(self):
        return iter(self.results)


def progress_iter(progress, iterable, n, desc):
    """``iterable`` wrapped by the progress bar ``progress`` (None/False: unwrapped, True: tqdm)."""
    if progress is None or progress is False:
        return iterable
    if progress is True:
        from tqdm.auto import tqdm

        return tqdm(_Sized(iterable, n), total=n, desc=desc, unit="tile")
    return progress(_Sized(iterable, n))
