"""ReconParams: legacy names and defaults, string conversion, validation, hints."""

import inspect

import pytest

from alsmicroct.errors import AlsMicroCTError, ParameterError
from alsmicroct.params import ReconParams, parse_overrides, parse_value
from alsmicroct.reconstruction import recon

LEGACY_DEFAULTS = dict(
    outputPath=None,
    outputFilename=None,
    doOutliers1D=False,
    outlier_diff1D=750,
    outlier_size1D=3,
    doOutliers2D=False,
    outlier_diff2D=750,
    outlier_size2D=3,
    doFWringremoval=True,
    doTIringremoval=False,
    doSFringremoval=False,
    ringSigma=3,
    ringLevel=8,
    ringWavelet="db5",
    ringNBlock=0,
    ringAlpha=1.5,
    ringSize=5,
    doPhaseRetrieval=False,
    alphaReg=0.0002,
    propagation_dist=75,
    kev=24,
    butterworth_cutoff=0.25,
    butterworth_order=2,
    doPolarRing=False,
    Rarc=30,
    Rmaxwidth=100,
    Rtmax=3000.0,
    Rthr=3000.0,
    Rtmin=-3000.0,
    cor=None,
    corFunction="pc",
    voInd=None,
    voSMin=-40,
    voSMax=40,
    voSRad=10,
    voStep=0.5,
    voRatio=2.0,
    voDrop=20,
    nmInd=None,
    nmInit=None,
    nmTol=0.5,
    nmMask=True,
    nmRatio=1.0,
    nmSinoOrder=False,
    use360to180=False,
    doBilateralFilter=False,
    bilateral_srad=3,
    bilateral_rrad=30,
    castTo8bit=False,
    cast8bit_min=-10,
    cast8bit_max=30,
    useNormalize_nf=False,
    chunk_proj=100,
    chunk_sino=100,
    npad=None,
    projused=None,
    sinoused=None,
    correcttilt=0,
    tiltcenter_slice=None,
    tiltcenter_det=None,
    angle_offset=0,
    anglelist=None,
    doBeamHardening=False,
    BeamHardeningCoefficients=None,
    projIgnoreList=None,
)


def test_every_legacy_keyword_and_default():
    p = ReconParams()
    for name, default in LEGACY_DEFAULTS.items():
        assert getattr(p, name) == default, name
    assert p.inputPath == "./"


def test_recon_signature_lists_legacy_keywords():
    sig = inspect.signature(recon)
    names = list(sig.parameters)
    assert names[:2] == ["filename", "inputPath"]
    for name, default in LEGACY_DEFAULTS.items():
        assert sig.parameters[name].default == default, name


def test_strings_are_converted():
    p = ReconParams.from_mapping(
        {
            "cor": "1023.5",
            "sinoused": "(-1,20,1)",
            "doPhaseRetrieval": "true",
            "chunk_sino": "50",
            "projused": "[0, 100]",
            "BeamHardeningCoefficients": "0, 1, 0, 0, 0, 0.1",
            "anglelist": "-1",
            "projIgnoreList": "3,7",
            "kev": "None",
            "castTo8bit": "yes",
            "outputPath": "/data/out (v2)",
        }
    )
    assert p.cor == 1023.5 and p.sinoused == (-1, 20, 1) and p.doPhaseRetrieval is True
    assert p.chunk_sino == 50 and isinstance(p.chunk_sino, int)
    assert p.projused == (0, 100, 1)
    assert p.BeamHardeningCoefficients == (0.0, 1.0, 0.0, 0.0, 0.0, 0.1)
    assert p.anglelist == -1 and p.projIgnoreList == (3, 7) and p.kev is None and p.castTo8bit is True
    assert p.outputPath == "/data/out (v2)"


def test_frozen_and_replace():
    p = ReconParams(cor=10)
    with pytest.raises(AttributeError):
        p.cor = 11  # type: ignore[misc]
    q = p.replace(cor="12.5")
    assert q.cor == 12.5 and p.cor == 10.0
    assert ReconParams.from_mapping(q.to_dict()) == q


@pytest.mark.parametrize(
    "key, hint",
    [
        ("doOutlier1D", "doOutliers1D"),
        ("outputpath", "outputPath"),
        ("ringsigma", "ringSigma"),
        ("chunksino", "chunk_sino"),
    ],
)
def test_unknown_key_did_you_mean(key, hint):
    with pytest.raises(ParameterError, match=f"did you mean '{hint}'"):
        ReconParams.from_mapping({key: 1}, source="list.txt line 3")
    with pytest.raises(ParameterError, match="list.txt line 3"):
        ReconParams.from_mapping({key: 1}, source="list.txt line 3")


def test_recon_rejects_typo_before_any_work(tmp_path):
    with pytest.raises(ParameterError, match="did you mean 'doFWringremoval'"):
        recon("does_not_exist.h5", inputPath=str(tmp_path), doFWRingremoval=False)


@pytest.mark.parametrize(
    "mapping, text",
    [
        ({"chunk_sino": 0}, "chunk_sino=0: must be >= 1"),
        ({"chunk_proj": "2.5"}, "whole number"),
        ({"cor": "abc"}, "expected a number"),
        ({"cor": float("nan")}, "finite"),
        ({"doFWringremoval": "maybe"}, "boolean"),
        ({"corFunction": "pcc"}, "did you mean 'pc'"),
        ({"sinoused": "(5, 2, 1)"}, "end must be larger"),
        ({"sinoused": "(0, 10, 0)"}, "step must be >= 1"),
        ({"sinoused": "1,2,3,4"}, "start, end"),
        ({"BeamHardeningCoefficients": "1,2,3"}, "expected 6 values"),
        ({"cast8bit_min": 5, "cast8bit_max": 5}, "smaller than cast8bit_max"),
        ({"ringWavelet": "db55"}, "did you mean 'db5'"),
        ({"butterworth_cutoff": 0}, "must be > 0"),
        ({"anglelist": 3}, "radians"),
        ({"projIgnoreList": "-1"}, ">= 0"),
    ],
)
def test_bad_values(mapping, text):
    with pytest.raises(ParameterError, match=text) as info:
        ReconParams.from_mapping(mapping)
    assert isinstance(info.value, AlsMicroCTError) and isinstance(info.value, ValueError)


def test_parse_overrides_and_value():
    assert parse_overrides(["cor=1023.5", "sinoused=(-1,20,1)", "doPhaseRetrieval=true"]) == {
        "cor": 1023.5,
        "sinoused": (-1, 20, 1),
        "doPhaseRetrieval": True,
    }
    with pytest.raises(ParameterError, match="key=value"):
        parse_overrides(["cor"], source="list.txt line 2")
    with pytest.raises(ParameterError, match="did you mean 'cor'"):
        parse_overrides(["corr=3"])
    assert parse_value("voInd", "12") == 12


def test_enabled_steps_order():
    from alsmicroct.pipeline.steps import STEPS, enabled_step_names

    p = ReconParams(doOutliers1D=True, correcttilt=0.5, use360to180=True, doPhaseRetrieval=True, castTo8bit=True)
    steps = enabled_step_names(p)
    assert steps.index("outliers1D") < steps.index("tilt") < steps.index("360to180")
    assert steps.index("360to180") < steps.index("phase") < steps.index("cast_8bit")
    for spec in STEPS:  # the table names real parameter fields only
        assert set(spec.fields) <= set(ReconParams.field_names()), spec.name
