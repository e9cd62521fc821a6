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


def test_changes_after_the_ai_in_read_first_mode_hand_counted(tmp_path, card):
    from xray_desktop.records.reads import FIRST_IMPRESSION, READ_FIRST_FINAL
    from xray_desktop.siteperf.data import changes_text

    # (first impression, final, AI label at the final): expected change
    calls = [("NORMAL", "PNEUMONIA", "PNEUMONIA"),  # toward the AI, N->P
             ("PNEUMONIA", "PNEUMONIA", "NORMAL"),  # unchanged
             ("PNEUMONIA", "NORMAL", "NORMAL"),  # toward the AI, P->N
             ("NORMAL", "PNEUMONIA", "NORMAL"),  # away from the AI, N->P
             ("INDETERMINATE", "NORMAL", "PNEUMONIA")]  # other change
    with Store.open(tmp_path / "r.sqlite3") as store:
        for i, (first, final, ai) in enumerate(calls):
            f = store.add_read(read(i, first, None, threshold=None, role=FIRST_IMPRESSION))
            p = 0.9 if ai == "PNEUMONIA" else 0.1
            store.add_read(read(i, final, p, ai_label=ai, role=READ_FIRST_FINAL, supersedes=f.id))
        store.add_read(read(10, "NORMAL", None, threshold=None, role=FIRST_IMPRESSION))  # no final yet
        store.add_read(read(11, "NORMAL", 0.2, ai_label="NORMAL"))  # an ordinary read
        res = site_result(store, card)
        from xray_desktop.siteperf.service import cases_from_store

        only = cases_from_store(store, card, read_first_only=True)
    rf = res.report["read_first"]
    assert rf == {"n": 5, "unchanged": 1, "changed": 4, "toward_ai": 2, "away_from_ai": 1, "other_change": 1,
                  "normal_to_pneumonia": 2, "pneumonia_to_normal": 1}
    assert res.report["n_reads"] == 6 and res.report["excluded"]["first impression only (no final read yet)"] == 1
    assert len(only.y) == 5 and only.excluded["not made in read-first mode"] == 1
    assert changes_text(rf).startswith("Read-first mode: 5 reads; 4 changed after seeing the AI (2 toward")


def test_site_report_read_first_only_flag(tmp_path, capsys):
    import json

    from xray_desktop.cli import main
    from xray_desktop.records.reads import FIRST_IMPRESSION, READ_FIRST_FINAL

    model = tmp_path / "model"
    model.mkdir()
    (model / "model_card.json").write_text(json.dumps(synthetic_card(SHA)))
    db = tmp_path / "r.sqlite3"
    with Store.open(db) as store:
        for i, (diag, p) in enumerate((("PNEUMONIA", 0.9), ("NORMAL", 0.2))):
            f = store.add_read(read(i, diag, None, threshold=None, role=FIRST_IMPRESSION))
            store.add_read(read(i, diag, p, role=READ_FIRST_FINAL, supersedes=f.id))
        store.add_read(read(5, "NORMAL", 0.3))
    assert main(["site-report", "--db", str(db), "--model-dir", str(model), "--json", "--read-first-only"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_reads"] == 2 and out["read_first"]["n"] == 2 and out["read_first"]["unchanged"] == 2
    assert main(["site-report", "--predictions", str(db), "--labels", str(db), "--read-first-only",
                 "--model-dir", str(model)]) == 1
    assert "go with --db" in capsys.readouterr().err


def test_an_adjudication_is_the_reference_and_the_readers_change_stays_counted(tmp_path, card):
    from xray_desktop.records.reads import ADJUDICATOR, FIRST_IMPRESSION, READ_FIRST_FINAL
    from xray_desktop.siteperf.service import cases_from_store

    with Store.open(tmp_path / "r.sqlite3") as store:
        f = store.add_read(read(0, "NORMAL", None, threshold=None, role=FIRST_IMPRESSION))
        final = store.add_read(read(0, "PNEUMONIA", 0.3, ai_label="PNEUMONIA", role=READ_FIRST_FINAL, supersedes=f.id))
        store.add_read(final.to_input(reviewer="dr_b", final_diagnosis=final.final_diagnosis.NORMAL,
                                      role=ADJUDICATOR, supersedes=final.id))  # the second look says NORMAL
        store.add_read(read(1, "PNEUMONIA", 0.8))
        res = site_result(store, card)
        only = cases_from_store(store, card, read_first_only=True)
    rep = res.report
    assert (rep["n_reads"], rep["n_positive"], rep["n_negative"]) == (2, 1, 1)  # study 0 counts as NORMAL
    assert rep["auc"] == 1.0  # with the reader's PNEUMONIA as reference there would be no NORMAL case
    assert rep["read_first"]["n"] == 1 and rep["read_first"]["normal_to_pneumonia"] == 1
    assert len(only.y) == 0 and only.excluded["adjudicated (the adjudicator saw the AI)"] == 1
