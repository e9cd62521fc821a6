from xray_desktop.training.data import Example, patient_of, split_by_patient


def test_patient_ids_follow_the_data_readme():
    assert patient_of("person1_bacteria_1.jpeg") == "person1"
    assert patient_of("person1000_virus_1681.jpeg") == "person1000"
    assert patient_of("IM-0115-0001.jpeg") == "IM-0115"
    assert patient_of("NORMAL2-IM-0383-0001.jpeg") == "NORMAL2-IM-0383"
    assert patient_of("NORMAL2-IM-1345-0001-0002.jpeg") == "NORMAL2-IM-1345"


def test_split_is_by_patient_stratified_and_reproducible():
    ex = [Example(f"p{p}_{i}", p % 3 == 0, f"p{p}") for p in range(300) for i in range(1 + p % 4)]
    ex = [Example(e.rel_path, int(e.label), e.patient) for e in ex]
    tr, va = split_by_patient(ex, 0.15, seed=1)
    assert not {e.patient for e in tr} & {e.patient for e in va}
    for label in (0, 1):
        n = sum(e.label == label for e in ex)
        v = sum(e.label == label for e in va)
        assert 0.12 * n <= v <= 0.2 * n
    assert split_by_patient(ex, 0.15, seed=1) == (tr, va)
