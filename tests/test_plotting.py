"""The figures and panels: axis titles, traces, frames, pairing, colours, live recompute."""

import dataclasses

import numpy as np
import plotly.graph_objects as go
import pytest
from IPython.display import HTML

import losslandscape as ll
from losslandscape import plotting as lp
from losslandscape import widgets
from losslandscape.plotting.landscape import NARROW_BELOW

W250, W251 = lp.weight_label((5, 250)), lp.weight_label((5, 251))

# Machado, Oliveira & Fernandes (2009), severity 1, on linear RGB.
COLOUR_BLINDNESS = {
    "protanopia": [[0.152, 1.053, -0.205], [0.115, 0.786, 0.099], [-0.004, -0.048, 1.052]],
    "deuteranopia": [[0.367, 0.861, -0.228], [0.280, 0.673, 0.047], [-0.012, 0.043, 0.969]],
    "tritanopia": [[1.256, -0.077, -0.179], [-0.078, 0.931, 0.148], [0.005, 0.691, 0.304]],
}


@pytest.fixture(scope="module")
def surface(landscape):
    return lp.Surface.of(landscape, ll.SEED_W_A, ll.SEED_W_B)


@pytest.fixture(scope="module")
def runs(landscape):
    return ll.train(landscape, ll.SEED_METHODS)


def test_landscape_figure_names_axes_and_gives_each_surface_its_own_colour_bar(mnist, surface):
    other = lp.Surface.of(ll.Landscape(1000, data=mnist), ll.SEED_W_A, ll.SEED_W_B)
    fig = lp.landscape_figure([surface, other])
    assert [t.type for t in fig.data] == ["surface", "surface"]
    for scene in (fig.layout.scene, fig.layout.scene2):
        assert (scene.xaxis.title.text, scene.yaxis.title.text) == (W250, W251)
        assert scene.zaxis.title.text == "cost"
    bars = [t.colorbar.x for t in fig.data]
    domains = [fig.layout.scene.domain.x, fig.layout.scene2.domain.x]
    # Each bar sits at the right edge of its own scene, left of the next scene.
    assert domains[0][0] < bars[0] < domains[1][0] < bars[1] <= 1
    cividis = go.Surface(colorscale="Cividis").colorscale
    assert all(t.colorscale == cividis for t in fig.data)
    assert [a.text for a in fig.layout.annotations] == ["N = 100", "N = 1,000"]


def test_landscape_figure_carries_its_scenes_stacked_for_a_narrow_page(mnist, surface):
    other = lp.Surface.of(ll.Landscape(1000, data=mnist), ll.SEED_W_A, ll.SEED_W_B)
    fig = lp.landscape_figure([surface, other])
    narrow = fig.layout.meta["narrow"]
    assert narrow["below"] == NARROW_BELOW
    # The wide arrangement is the figure as drawn, so the page can go back to it.
    traces, layout = narrow["wide"]
    assert layout["scene2.domain"] == fig.layout.scene2.domain.to_plotly_json()
    assert traces["colorbar.x"] == [t.colorbar.x for t in fig.data]
    traces, layout = narrow["narrow"]
    top, bottom = layout["scene.domain"], layout["scene2.domain"]
    # One above the other, each over most of the width, its title above it, its colour bar
    # right of it, beside its own scene only.
    assert top["x"] == bottom["x"] and top["x"][1] - top["x"][0] > 0.8
    assert bottom["y"][1] < top["y"][0]
    assert (
        layout["annotations[0].y"] == top["y"][1] and layout["annotations[1].y"] == bottom["y"][1]
    )
    assert all(top["x"][1] < x <= 1 for x in traces["colorbar.x"])
    assert [bottom["y"][0] < y < bottom["y"][1] for y in traces["colorbar.y"]] == [False, True]
    assert layout["height"] > fig.layout.height


def test_contour_race_has_titled_axes_no_rainbow_and_a_frame_every_20_epochs(surface, runs):
    fig = lp.race_contour_figure(surface, runs, every=20)
    assert fig.layout.xaxis.title.text == W250 and fig.layout.yaxis.title.text == W251
    assert fig.layout.xaxis2.title.text == "epoch" and fig.layout.yaxis2.title.text == "cost"
    # The map is a picture under the plot; trace 0 carries its colour bar and tooltips.
    assert fig.data[0].type == "scatter" and fig.data[0].marker.opacity == 0
    assert fig.data[0].marker.colorscale == tuple(tuple(c) for c in lp.BACKDROP_SCALE)
    assert fig.layout.images[0].source.startswith("data:image/png;base64,")
    assert fig.layout.images[0].layer == "below"
    assert len(fig.data) == 1 + 3 * len(runs)
    assert [f.name for f in fig.frames] == [str(e) for e in range(0, 1001, 20)]
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["▶ Play", "❚❚ Pause"]
    assert len(fig.layout.sliders[0].steps) == len(fig.frames)
    # Legend entries toggle a method's three traces together.
    for i, run in enumerate(runs):
        assert {t.legendgroup for t in fig.data[1 + 3 * i : 4 + 3 * i]} == {run.method}


def test_contour_race_frames_pair_each_point_with_its_own_cost(surface, runs):
    fig = lp.race_contour_figure(surface, runs, every=20)
    frame = fig.frames[5]  # epoch 100
    assert frame.name == "100"
    for i, run in enumerate(runs):
        path, head, curve = frame.data[3 * i : 3 * i + 3]
        epochs = np.asarray(curve.x)
        np.testing.assert_array_equal(np.asarray(curve.y), run.costs[epochs])
        np.testing.assert_array_equal(np.c_[path.x, path.y], run.weights[epochs])
        np.testing.assert_array_equal([head.x[0], head.y[0]], run.weights[100])
        assert epochs[-1] == 100


def test_3d_race_animates_paths_at_their_costs(surface, runs):
    fig = lp.race_3d_figure(surface, runs, every=20, lift=0.03)
    assert fig.data[0].type == "surface"
    assert len(fig.data) == 1 + 3 * len(runs)
    assert fig.layout.scene.xaxis.title.text == W250
    assert fig.layout.scene.zaxis.title.text == "cost"
    assert len(fig.frames) == 51
    assert fig.layout.updatemenus[0].buttons[0].args[1]["frame"]["redraw"] is True
    dz = 0.03 * np.ptp(surface.covering(runs).z)  # of the surface drawn
    last = fig.frames[-1]
    for i, run in enumerate(runs):
        assert last.traces[2 * i : 2 * i + 2] == (2 + 3 * i, 3 + 3 * i)
        head = last.data[2 * i + 1]
        np.testing.assert_allclose([head.x[0], head.y[0]], run.weights[-1])
        np.testing.assert_allclose(head.z[0], run.costs[-1] + dz)


def test_method_styles_stay_distinct_for_colour_blind_readers():
    styles = [lp.method_style(name) for name in ll.OPTIMIZERS]
    for field in ("color", "dash", "symbol", "symbol3d"):
        assert len({getattr(s, field) for s in styles}) == len(styles), field
    rgb = np.array([[int(s.color[i : i + 2], 16) / 255 for i in (1, 3, 5)] for s in styles])
    assert "#F0E442" not in {s.color for s in styles}  # Okabe-Ito yellow vanishes on light maps
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    for name, matrix in COLOUR_BLINDNESS.items():
        seen = np.clip(linear @ np.array(matrix).T, 0, 1) ** (1 / 2.2)
        distance = np.linalg.norm(seen[:, None] - seen[None], axis=-1)
        assert distance[np.triu_indices(len(styles), 1)].min() > 0.1, name


def test_sweep_slider_shows_one_precomputed_run_per_step(landscape, surface):
    lrs = [1, 10, 100]
    runs = ll.train(landscape, ["SGD"], lrs=lrs)
    fig = lp.sweep_figure(surface, runs, [str(lr) for lr in lrs], prefix="lr = ", active=1)
    assert len(fig.data) == 1 + 2 * len(runs)
    assert [t.visible for t in fig.data] == [None, False, False, True, True, False, False]
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["1", "10", "100"]
    for i, step in enumerate(steps):
        visible = step.args[0]["visible"]
        assert visible == [True] + [j // 2 == i for j in range(2 * len(runs))]
    with pytest.raises(ValueError, match="one label per run"):
        lp.sweep_figure(surface, runs, ["1"], prefix="lr = ")


def test_surfaces_slider_switches_between_sample_sizes(mnist):
    surfaces = [lp.Surface.of(ll.Landscape(n, data=mnist), [0, 1, 2], [0, 1]) for n in (10, 20)]
    fig = lp.surfaces_slider_figure(surfaces)
    assert [s.label for s in fig.layout.sliders[0].steps] == ["10", "20"]
    assert fig.layout.xaxis.title.text == W250


def test_show_returns_the_figure_live_and_small_deterministic_html_when_static(
    surface, runs, monkeypatch
):
    fig = lp.trajectory_figure(surface, runs[:1])
    monkeypatch.delenv(lp.STATIC_ENV, raising=False)
    assert lp.show(fig, "x") is fig
    monkeypatch.setenv(lp.STATIC_ENV, "1")
    first, second = lp.show(fig, "sgd-path"), lp.show(fig, "sgd-path")
    assert isinstance(first, HTML) and first.data == second.data
    assert 'id="sgd-path"' in first.data
    assert len(first.data) < 500_000  # plotly.js itself (4.8 MB) is not embedded


def test_panel_retrains_and_redraws_when_a_control_moves(mnist):
    panel = widgets.OptimizerPanel(["SGD", "Adam"], data=mnist)
    fig, controls = panel.figure, panel.controls
    assert isinstance(fig, go.FigureWidget)
    assert {"lr", "Adam.beta1", "Adam.beta2", "Adam.eps", "start_a", "n_samples"} <= set(controls)
    before = np.array(fig.data[1].x)
    controls["lr"].value = 1.0
    assert not np.allclose(np.array(fig.data[1].x)[-1], before[-1])
    adam_before = np.array(fig.data[3].x)
    controls["Adam.beta1"].value = 0.5
    assert not np.allclose(np.array(fig.data[3].x), adam_before)
    controls["epoch"].value = 50
    assert len(fig.data[1].x) == len(fig.data[2].y) == 51
    controls["n_samples"].value = 1000
    map_ = fig.data[0]
    thousand = ll.Landscape(1000, data=mnist).grid(np.array(map_.x), np.array(map_.y))
    np.testing.assert_allclose(np.array(map_.z), thousand, rtol=0, atol=1e-12)
    controls["lr"].value = 300.0  # SGD runs far past the original grid's edge at 17
    assert max(np.array(fig.data[1].x)) <= max(np.array(fig.data[0].x))
    controls["methods"].value = ("Adam",)
    assert [t.visible for t in fig.data[1:]] == [False, False, True, True]
    assert "Adam:" in panel.status.value


def _map_ranges(fig):
    """The map's drawn extent and the axes' ranges, for each figure kind."""
    if fig.data[0].type == "surface":
        scene = fig.layout.scene
        x, y = np.asarray(fig.data[0].x), np.asarray(fig.data[0].y)
        return (x, y), (scene.xaxis.range, scene.yaxis.range)
    if fig.layout.images:
        image = fig.layout.images[0]
        x = np.array([image.x, image.x + image.sizex])
        y = np.array([image.y - image.sizey, image.y])
    else:
        x, y = np.asarray(fig.data[0].x), np.asarray(fig.data[0].y)
    return (x, y), (fig.layout.xaxis.range, fig.layout.yaxis.range)


def _figures(surface, runs):
    labels = [str(i) for i in range(len(runs))]
    return {
        "trajectory": lp.trajectory_figure(surface, runs),
        "race_contour": lp.race_contour_figure(surface, runs),
        "race_3d": lp.race_3d_figure(surface, runs),
        "sweep": lp.sweep_figure(surface, runs, labels, prefix="run "),
    }


def test_every_map_covers_every_path_drawn_on_it(surface, runs):
    points = np.concatenate([run.weights for run in runs])
    assert points[:, 0].max() > ll.SEED_W_A[-1]  # the paths do leave the original grid
    for kind, fig in _figures(surface, runs).items():
        (x, y), (x_range, y_range) = _map_ranges(fig)
        assert x.min() <= points[:, 0].min() and points[:, 0].max() <= x.max(), kind
        assert y.min() <= points[:, 1].min() and points[:, 1].max() <= y.max(), kind
        # The axes show the map and nothing beyond it: no blank strip.
        np.testing.assert_allclose([*x_range, *y_range], [x.min(), x.max(), y.min(), y.max()])
        assert not fig.layout.annotations or "leaves" not in fig.layout.annotations[-1].text


def test_a_map_grows_at_its_own_spacing_and_keeps_its_values(landscape, surface, runs):
    grown = surface.covering(runs)
    step = ll.SEED_W_A[1] - ll.SEED_W_A[0]
    np.testing.assert_allclose(np.diff(grown.w_a), step)
    np.testing.assert_array_equal(grown.w_a[: len(ll.SEED_W_A)], ll.SEED_W_A)
    np.testing.assert_allclose(grown.z, landscape.grid(grown.w_a, grown.w_b))
    assert grown.w_a[-2] < np.nanmax([run.weights[:, 0].max() for run in runs]) <= grown.w_a[-1]
    assert surface.covering([runs[0]]) is surface  # SGD stays on the original grid


def test_a_run_that_flies_off_is_named_instead_of_drawing_a_gigantic_map(surface, runs):
    weights = runs[0].weights.copy()
    weights[500] = [1e30, -1e30]
    weights[501:] = np.nan  # diverged: the rows after the blow-up are NaN
    wild = dataclasses.replace(runs[0], method="wild", weights=weights, diverged_at=501)
    for kind, fig in _figures(surface, [runs[1], wild]).items():
        (x, _), _ = _map_ranges(fig)
        width = ll.SEED_W_A[-1] - ll.SEED_W_A[0]
        assert x.max() - x.min() <= (1 + 2 * lp.MAX_GROWTH) * width + 1e-9, kind
        names = {"sweep": "run 1"}.get(kind, "wild")
        assert fig.layout.annotations[-1].text.endswith(f"leaves the map: {names}"), kind


def test_a_bare_grid_is_drawn_as_it_is_with_axes_widened_to_the_paths(surface, runs):
    bare = lp.Surface(surface.w_a, surface.w_b, surface.z, surface.n_samples)
    fig = lp.trajectory_figure(bare, runs)
    np.testing.assert_array_equal(fig.data[0].x, ll.SEED_W_A)
    ends = np.nanmax(np.concatenate([run.weights for run in runs]), axis=0)
    assert fig.layout.xaxis.range[1] == ends[0] and fig.layout.yaxis.range[1] == 18.0


def test_sweep_keeps_one_cost_scale_for_every_step(landscape, surface):
    runs = ll.train(landscape, ["SGD"], lrs=[1, 10, 100])
    fig = lp.sweep_figure(surface, runs, ["1", "10", "100"], prefix="lr = ")
    costs = np.concatenate([run.costs for run in runs])
    low, high = fig.layout.yaxis2.range
    assert low < costs.min() and costs.max() < high
    assert fig.layout.xaxis2.range == (0, 1000)
    # The slider changes visibility only, never a range.
    assert all(set(step.args[0]) == {"visible"} for step in fig.layout.sliders[0].steps)


def test_path_tooltips_give_the_weights_and_the_cost_of_each_point(surface, runs):
    methods = [run.method for run in runs]
    names = {"sweep": [f"run {i}" for i in range(len(runs))]}
    names = {kind: names.get(kind, methods) for kind in _figures(surface, runs[:1])}
    for kind, fig in _figures(surface, runs).items():
        # Every path and current point: all traces but the map and the cost curves.
        paths = [
            t
            for t in fig.data[1:]
            if t.hoverinfo != "skip" and t.to_plotly_json().get("yaxis") != "y2"
        ]
        assert paths, kind
        for trace in paths:
            assert "%{x" in trace.hovertemplate and "%{y" in trace.hovertemplate, kind
            assert "cost %{customdata[1]" in trace.hovertemplate, kind
            run = runs[names[kind].index(trace.legendgroup)]
            epochs = np.asarray(trace.customdata)[:, 0].astype(int)
            np.testing.assert_array_equal(np.asarray(trace.customdata)[:, 1], run.costs[epochs])
            np.testing.assert_array_equal(trace.x, run.weights[epochs, 0])


def test_3d_race_tells_paths_apart_by_width_and_dash_and_looks_across_the_valley(surface, runs):
    fig = lp.race_3d_figure(surface, runs)
    moving = fig.data[2::3]
    assert len({t.line.width for t in moving}) == len(runs)
    assert len({t.line.dash for t in moving}) == len(runs)
    eye = fig.layout.scene.camera.eye
    # The valley runs along w_a: the camera looks along w_b, from above.
    assert abs(eye.y) > 2 * abs(eye.x) and eye.z > 0
    assert fig.layout.scene.aspectratio.x > fig.layout.scene.aspectratio.y


def test_players_put_play_pause_above_the_slider(surface, runs):
    for fig in (lp.race_contour_figure(surface, runs), lp.race_3d_figure(surface, runs)):
        buttons, slider = fig.layout.updatemenus[0], fig.layout.sliders[0]
        assert buttons.y == slider.y and slider.pad.t > buttons.pad.t + 30


def test_surfaces_slider_can_share_one_colour_scale(mnist):
    surfaces = [lp.Surface.of(ll.Landscape(n, data=mnist), [0, 1, 2], [0, 1]) for n in (10, 20)]
    fig = lp.surfaces_slider_figure(surfaces, shared_scale=True)
    low = min(s.z.min() for s in surfaces)
    high = max(s.z.max() for s in surfaces)
    for trace in fig.data:
        assert trace.zmin <= low and high <= trace.zmax
        assert (trace.contours.start, trace.contours.size) == (
            fig.data[0].contours.start,
            fig.data[0].contours.size,
        )


def test_landscape_cameras_are_linked_live_and_in_static_html(mnist, surface, monkeypatch):
    other = lp.Surface.of(ll.Landscape(1000, data=mnist), ll.SEED_W_A, ll.SEED_W_B)
    fig = lp.landscape_figure([surface, other])
    monkeypatch.delenv(lp.STATIC_ENV, raising=False)
    widget = lp.show(fig, "landscape")
    assert isinstance(widget, go.FigureWidget)
    widget.layout.scene.camera = {"eye": {"x": 0.1, "y": -2.5, "z": 0.3}}
    assert widget.layout.scene2.camera.eye.to_plotly_json() == {"x": 0.1, "y": -2.5, "z": 0.3}
    monkeypatch.setenv(lp.STATIC_ENV, "1")
    html = lp.show(fig, "landscape").data
    assert 'getElementById("landscape")' in html and "plotly_relayouting" in html
    assert "gd.layout.meta.narrow" in html  # the page stacks the scenes when narrow
    single = lp.show(lp.race_3d_figure(surface, [ll.train(ll.Landscape(100, data=mnist))[0]]), "x")
    assert "plotly_relayouting" not in single.data and "meta.narrow" not in single.data
