"""The web app's code (app.py holds only the page layout and wiring).

handlers: the functions the page and the named API endpoints call; limits: caps of the shared Space; gpu: the
full model's ZeroGPU function; plots, examples, exports, files, progress: small helpers.  Nothing heavy is
imported here, so the page starts quickly; models load on the first request and stay loaded.
"""
