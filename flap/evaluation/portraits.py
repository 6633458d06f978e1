"""The portraits that the appearance and mouth measures, their tests and the contact sheets run on, by name, as
paths from the repository root: the two bundled examples, three press photos, and two studio photos of about 1900
whose lips a beard and a moustache hide (sources and licences: examples/README.md, tests/portraits/README.md)."""

EVALUATION_PORTRAITS: dict[str, str] = {
    "astronaut": "examples/portraits/astronaut.jpg",
    "grace": "examples/portraits/grace_hopper.jpg",
    "obama_smiling": "tests/portraits/obama_smiling.jpg",
    "obama_speaking": "tests/portraits/obama_speaking.jpg",
    "biden": "tests/portraits/biden_standing.jpg",
    "andersson_beard": "tests/portraits/andersson_beard.jpg",
    "dahlgren_moustache": "tests/portraits/dahlgren_moustache.jpg",
}
LIPS_HIDDEN: tuple[str, ...] = ("andersson_beard", "dahlgren_moustache")
