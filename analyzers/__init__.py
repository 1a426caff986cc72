"""Pure analyzers: posts, accounts and media in; findings out. No database, no network."""
