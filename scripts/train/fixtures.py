#!/usr/bin/python3
"""Writes the small ONNX models the refusal tests load (test/fixtures/reasoning/), built with onnx.helper:
- wrong-shape.onnx: input `windows` [batch, 30, 16] (the contract says 60 time steps);
- wrong-outputs.onnx: the right input, but one output `scores` [batch, 4] instead of class_probs and asset_probs.
    /usr/bin/python3 scripts/train/fixtures.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'reasoning')


def model(steps, outputs):
    x = helper.make_tensor_value_info('windows', TensorProto.FLOAT, ['batch', steps, 16])
    nodes = [helper.make_node('ReduceMean', ['windows'], ['pooled'], axes=[1], keepdims=0)]
    inits = []
    outs = []
    for name, width in outputs:
        w = numpy_helper.from_array(np.full((16, width), 0.01, dtype=np.float32), name + '_w')
        inits.append(w)
        nodes += [helper.make_node('MatMul', ['pooled', name + '_w'], [name + '_l']),
                  helper.make_node('Softmax', [name + '_l'], [name], axis=-1)]
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ['batch', width]))
    g = helper.make_graph(nodes, 'fixture', [x], outs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)], producer_name='glimmer scripts/train/fixtures.py')
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


os.makedirs(OUT, exist_ok=True)
onnx.save(model(30, [('class_probs', 4), ('asset_probs', 6)]), os.path.join(OUT, 'wrong-shape.onnx'))
onnx.save(model(60, [('scores', 4)]), os.path.join(OUT, 'wrong-outputs.onnx'))
onnx.save(model(60, [('class_probs', 3), ('asset_probs', 6)]), os.path.join(OUT, 'wrong-classes.onnx'))
print('fixtures written to', os.path.normpath(OUT))
