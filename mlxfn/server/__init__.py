"""The aiohttp shell: app, handlers, middleware, SSE."""
