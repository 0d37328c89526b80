"""Records being played: spins and sides, history, and the scrobble queue to ListenBrainz and Last.fm."""
