"""The site report the GUI shows: from a store, with a plain reason instead of an error when there is no data."""

import numpy as np
import pytest

from tests.model.tiny_model import synthetic_card
from tests.siteperf.test_site_commands import SHA, read
from xray_desktop.model.card import ModelCard
from xray_desktop.records import Store
from xray_desktop.siteperf.service import site_result


@pytest.fixture
def card():
    return ModelCard(synthetic_card(SHA, training_data={"validation": {"images": 200, "pneumonia": 100,
                                                                        "normal": 100}}))


def test_empty_and_one_class_databases_give_a_reason_not_an_error(tmp_path, card):
    with Store.open(tmp_path / "r.sqlite3") as store:
        empty = site_result(store, card)
        assert empty.report is None and empty.site_roc == []
        assert empty.message.startswith("No site figures yet: 0 usable confirmed reads (0 PNEUMONIA, 0 NORMAL)")
        store.add_reads([read(1, "PNEUMONIA", 0.9), read(2, "PNEUMONIA", 0.8), read(3, "NORMAL", None)])
        one = site_result(store, card)
    assert one.report is None and "2 usable confirmed reads (2 PNEUMONIA, 0 NORMAL)" in one.message
    assert "left out: 1 no AI probability" in one.message


def test_tiny_database_reports_with_the_wide_interval_warning(tmp_path, card):
    with Store.open(tmp_path / "r.sqlite3") as store:
        first = store.add_reads([read(1, "NORMAL", 0.9), read(2, "NORMAL", 0.2)])
        store.add_read(first[0].to_input(final_diagnosis=first[0].final_diagnosis.PNEUMONIA, supersedes=first[0].id))
        res = site_result(store, card)
    rep = res.report
    assert res.message == "" and rep["n_reads"] == 2 and (rep["n_positive"], rep["n_negative"]) == (1, 1)
    assert rep["excluded"] == {"earlier reads of the same study (superseded)": 1}
    assert rep["auc"] == 1.0 and any("intervals are wide" in w for w in rep["warnings"])
    assert res.site_roc and all({"threshold", "sensitivity", "specificity"} <= set(r) for r in res.site_roc)
    assert np.isclose(max(r["sensitivity"] for r in res.site_roc), 1.0)
