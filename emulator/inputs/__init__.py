"""Where input bytes come from: the Url policy (pure rules), the fetcher (aiohttp's client,
pinned connections) and the map of known Urls served offline."""
