//! The model's parameters by path (`layers.3.mlp.up_proj.lora.a`): the
//! trainable ones' gradients and values, and replacing values by name.
//! Tensors are handled flattened (`Tensor<1>`) so one map holds every rank.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Gradients, Tensor};
use toolgrad_model::llama::Llama;

/// Tracks the module path while a visitor or mapper walks the model.
#[derive(Default)]
struct Path(Vec<String>);

impl Path {
    fn enter(&mut self, name: &str) {
        self.0.push(name.to_owned());
    }
    fn exit(&mut self) {
        self.0.pop();
    }
    fn name(&self) -> String {
        self.0.join(".")
    }
}

fn flat<const D: usize>(t: Tensor<D>) -> Tensor<1> {
    let n = t.shape().num_elements();
    t.reshape([n])
}

/// What a walk over the trainable parameters collects.
enum Collect<'a> {
    Grads(&'a Gradients),
    Values,
    Count,
}

struct Collector<'a> {
    path: Path,
    what: Collect<'a>,
    out: Vec<(String, Tensor<1>)>,
    trainable: usize,
    total: usize,
}

impl ModuleVisitor for Collector<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.enter(name);
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let n = value.shape().num_elements();
        self.total += n;
        if !value.is_require_grad() {
            return;
        }
        self.trainable += n;
        match self.what {
            Collect::Grads(grads) => {
                if let Some(g) = value.grad(grads) {
                    self.out.push((self.path.name(), flat(g)));
                }
            }
            Collect::Values => self.out.push((self.path.name(), flat(value.inner()))),
            Collect::Count => {}
        }
    }
}

type Named = Vec<(String, Tensor<1>)>;

fn collect(model: &Llama, what: Collect<'_>) -> (Named, usize, usize) {
    let mut collector = Collector {
        path: Path::default(),
        what,
        out: Vec::new(),
        trainable: 0,
        total: 0,
    };
    model.visit(&mut collector);
    (collector.out, collector.trainable, collector.total)
}

/// The gradient of every trainable parameter that received one.
pub fn trainable_grads(model: &Llama, grads: &Gradients) -> Named {
    collect(model, Collect::Grads(grads)).0
}

/// The current values of every trainable parameter (without autodiff).
pub fn trainable_values(model: &Llama) -> Named {
    collect(model, Collect::Values).0
}

/// `(trainable, total)` parameter counts.
pub fn counts(model: &Llama) -> (usize, usize) {
    let (_, trainable, total) = collect(model, Collect::Count);
    (trainable, total)
}

/// Rewrites trainable parameters: `update(name, value)` gets each one's
/// current value (flattened, without autodiff) and returns the new one, or
/// `None` to keep it. Gradient tracking is kept as it was.
pub fn map_trainable(
    model: Llama,
    update: &mut dyn FnMut(&str, Tensor<1>) -> Option<Tensor<1>>,
) -> Llama {
    struct Mapper<'a> {
        path: Path,
        update: &'a mut dyn FnMut(&str, Tensor<1>) -> Option<Tensor<1>>,
    }
    impl ModuleMapper for Mapper<'_> {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.enter(name);
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.exit();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (id, tensor, mapper) = param.consume();
            if !tensor.is_require_grad() {
                return Param::from_mapped_value(id, tensor, mapper);
            }
            let shape = tensor.shape();
            let plain = flat(tensor.clone().inner());
            match (self.update)(&self.path.name(), plain) {
                None => Param::from_mapped_value(id, tensor, mapper),
                Some(new) => {
                    let value = Tensor::from_inner(new.reshape(shape)).require_grad();
                    Param::from_mapped_value(id, value, mapper)
                }
            }
        }
    }
    model.map(&mut Mapper {
        path: Path::default(),
        update,
    })
}

/// Sets trainable parameters from `values` by name; returns the names of
/// trainable parameters `values` did not hold.
pub fn load_trainable(
    model: Llama,
    values: &mut HashMap<String, Tensor<1>>,
) -> (Llama, Vec<String>) {
    let mut missing = Vec::new();
    let model = map_trainable(model, &mut |name, current| match values.remove(name) {
        Some(v) if v.dims() == current.dims() => Some(v),
        _ => {
            missing.push(name.to_owned());
            None
        }
    });
    (model, missing)
}
