"Shared fixtures: a small demo workspace built once per test session."
import os
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
