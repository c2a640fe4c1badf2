"""Which protocol ids may become partition keys: CUIDs only, every other one reported with its row."""

from americano_pipeline.partitions import rejected_protocol, valid_protocol_ids

CUID = "c" + "a1" * 12


def test_only_cuids_are_kept_and_every_other_id_is_reported_in_order():
    reported = []
    ids = [CUID, "../../../tmp/x", "a,b [c]*", "C" + "A1" * 12, CUID[:-1], None, "c" + "b2" * 12]
    assert valid_protocol_ids(ids, reported.append) == [CUID, "c" + "b2" * 12]
    assert reported == [rejected_protocol(i) for i in ids[1:6]]
    assert reported[0] == ("experiment_protocols row with id '../../../tmp/x': not a CUID ('c' + 24 lowercase "
                           "letters or digits), so it is not registered as a protocol partition; fix the id in the "
                           "study database")
    assert rejected_protocol(CUID) is None
