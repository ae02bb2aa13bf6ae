"""GB/T 39409-2020 Beidou grid location code: published example, every level, hemispheres, bad codes."""

import numpy as np
import pytest

from gis.beidou import (
    CODE_LENGTH,
    BeidouCodeError,
    cell_size_degrees,
    decode,
    encode,
    level_of,
    parent,
)

# 116°18'45.37"E 39°59'35.38"N: the example used by the standard's libraries and a database vendor's
# ST_asBGC docs (level 8 -> N50J47539B825534); level 10 as printed by the TypeScript codec.
PKU_LON = 116 + 18 / 60 + 45.37 / 3600
PKU_LAT = 39 + 59 / 60 + 35.38 / 3600


def test_published_example():
    assert encode(PKU_LON, PKU_LAT, 8) == "N50J47539B825534"
    assert encode(PKU_LON, PKU_LAT, 10) == "N50J47539B8255346152"
    # The same digits in the south-west hemisphere: levels 2+ fold onto the north-east one.
    assert encode(-PKU_LON, -PKU_LAT, 10) == "S11J47539B8255346152"


def test_level_1_is_the_millionth_map_sheet():
    # Beijing is on sheet J-50 of the 1:1,000,000 map; Shanghai H-51; Urumqi K-45.
    assert encode(116.39, 39.9, 1) == "N50J"
    assert encode(121.47, 31.23, 1) == "N51H"
    assert encode(87.6, 43.8, 1) == "N45K"


@pytest.mark.parametrize("level", range(1, 11))
def test_every_level_round_trips_and_contains_the_point(level):
    rng = np.random.default_rng(level)
    lon = np.concatenate([rng.uniform(73, 135, 200), rng.uniform(-180, 180, 50)])
    lat = np.concatenate([rng.uniform(3, 54, 200), rng.uniform(-87.9, 87.9, 50)])
    codes = encode(lon, lat, level)
    assert codes.shape == lon.shape
    dlon, dlat = cell_size_degrees(level)
    for code, x, y in zip(codes, lon, lat):
        assert len(code) == CODE_LENGTH[level] and level_of(code) == level
        cell = decode(code)
        assert cell.level == level
        assert cell.contains(x, y), (code, x, y, cell.bounds)
        assert cell.east - cell.west == pytest.approx(dlon, rel=1e-9)
        assert cell.north - cell.south == pytest.approx(dlat, rel=1e-9)
        # Decoding then encoding the cell centre gives the same code.
        assert encode(*cell.centre, level) == code


def test_levels_nest():
    code = encode(PKU_LON, PKU_LAT, 10)
    for level in range(1, 10):
        assert parent(code, level) == encode(PKU_LON, PKU_LAT, level)
        outer, inner = decode(parent(code, level)), decode(code)
        assert outer.west <= inner.west and inner.east <= outer.east
        assert outer.south <= inner.south and inner.north <= outer.north


def test_cell_sizes_follow_the_standard():
    minutes = [(360, 240), (30, 30), (15, 10), (1, 1)]
    for level, (mx, my) in enumerate(minutes, start=1):
        assert cell_size_degrees(level) == pytest.approx((mx / 60, my / 60))
    seconds = {5: 4, 6: 2, 7: 1 / 4, 8: 1 / 32, 9: 1 / 256, 10: 1 / 2048}
    for level, s in seconds.items():
        assert cell_size_degrees(level) == pytest.approx((s / 3600, s / 3600))
    assert CODE_LENGTH[1:] == (4, 6, 7, 9, 11, 12, 14, 16, 18, 20)


def test_z_order_digits_of_levels_3_and_6():
    # Level 3 splits 30'x30' into 2 columns x 3 rows numbered row*2+column from the south-west corner.
    west, south = 116.0, 39.5
    for row in range(3):
        for col in range(2):
            code = encode(west + 0.125 + col * 0.25, south + (row + 0.5) / 6, 3)
            assert code[-1] == str(row * 2 + col)


def test_cell_edges_belong_to_the_cell_to_the_north_east():
    assert decode(encode(120.0, 30.0, 4)).bounds[:2] == pytest.approx((120.0, 30.0))
    assert encode(180.0, 10.0, 2) == encode(179.99, 10.0, 2)[:6]


def test_lowercase_codes_decode():
    assert decode("n50j47539b825534").code == "N50J47539B825534"


@pytest.mark.parametrize(
    "code,reason",
    [
        ("N50J4", "length 5"),
        ("X50J", "hemisphere letter"),
        ("N5XJ", "not two digits"),
        ("N61J", "outside 01–60"),
        ("N00J", "outside 01–60"),
        ("N50W", "outside A–V"),
        ("N50JC7", "level 2 column 'C' is out of range"),
        ("N50J48", "level 2 row '8' is out of range"),
        ("N50J476", "level 3 digit '6'"),
        ("N50J475FA", "level 4 column 'F'"),
        ("N50J4750A", "level 4 row 'A'"),
        ("N50J47539F0", "level 5 column 'F'"),
        ("N50J47539B84", "level 6 digit '4'"),
        ("N50J47539B8280", "level 7 column '8'"),
        ("N50J47539B82G0", "not a base-8 digit"),
    ],
)
def test_bad_codes_say_why(code, reason):
    with pytest.raises(BeidouCodeError, match=reason):
        decode(code)


def test_bad_input_points_and_levels():
    with pytest.raises(ValueError, match="polar cap"):
        encode(10.0, 88.5, 3)
    with pytest.raises(ValueError, match="not a lon/lat point"):
        encode(200.0, 10.0, 3)
    with pytest.raises(ValueError, match="level must be an integer 1–10"):
        encode(116.0, 39.0, 11)
    with pytest.raises(ValueError, match="no parent at level 5"):
        parent("N50J475", 5)


def test_encode_geometries_uses_a_point_inside_each():
    import shapely

    from gis.beidou import encode_geometries

    # A U shape whose centroid falls in the gap: the code must be of a cell the polygon covers.
    u = shapely.Polygon([(116.0, 39.0), (116.3, 39.0), (116.3, 39.3), (116.2, 39.3), (116.2, 39.1), (116.1, 39.1), (116.1, 39.3), (116.0, 39.3)])
    (code,) = encode_geometries([u], 5)
    assert u.intersects(decode(code).polygon())
    assert not u.contains(u.centroid)
    with pytest.raises(ValueError, match="geometry 1 is empty"):
        encode_geometries([u, shapely.Polygon()], 5)
