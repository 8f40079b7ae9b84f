//! Ready-made topologies: point-to-point, dumbbell, star. Each returns the
//! ids it created so a scenario can reach the links (to add faults) and the
//! nodes (to inspect them).

use crate::addr::Addr;
use crate::link::{LinkConfig, LinkId};
use crate::world::{Node, NodeId, Router, SimError, World};

/// A node to place: its unique name, address and behaviour.
pub struct Endpoint {
    pub name: String,
    pub addr: Addr,
    pub node: Box<dyn Node>,
}

impl Endpoint {
    pub fn new(name: impl Into<String>, addr: Addr, node: impl Node) -> Endpoint {
        Endpoint {
            name: name.into(),
            addr,
            node: Box::new(node),
        }
    }
}

/// Two nodes joined by one duplex link.
#[derive(Clone, Copy, Debug)]
pub struct PointToPoint {
    pub a: NodeId,
    pub b: NodeId,
    pub a_to_b: LinkId,
    pub b_to_a: LinkId,
}

pub fn point_to_point(
    world: &mut World,
    a: Endpoint,
    b: Endpoint,
    a_to_b: LinkConfig,
    b_to_a: LinkConfig,
) -> Result<PointToPoint, SimError> {
    let link_name = format!("{}-{}", a.name, b.name);
    let a_id = world.add_boxed_node(&a.name, a.addr, a.node)?;
    let b_id = world.add_boxed_node(&b.name, b.addr, b.node)?;
    let (ab, ba) = world.connect(&link_name, a_id, b_id, a_to_b, b_to_a)?;
    Ok(PointToPoint {
        a: a_id,
        b: b_id,
        a_to_b: ab,
        b_to_a: ba,
    })
}

/// N senders -> left router -> bottleneck -> right router -> N receivers.
#[derive(Clone, Debug)]
pub struct Dumbbell {
    pub senders: Vec<NodeId>,
    pub receivers: Vec<NodeId>,
    pub left: NodeId,
    pub right: NodeId,
    /// Left-to-right and right-to-left directions of the bottleneck.
    pub bottleneck: (LinkId, LinkId),
}

pub fn dumbbell(
    world: &mut World,
    senders: Vec<Endpoint>,
    receivers: Vec<Endpoint>,
    access: LinkConfig,
    bottleneck: LinkConfig,
    bottleneck_reverse: LinkConfig,
) -> Result<Dumbbell, SimError> {
    let left = world.add_node("router-left", Addr::new(10, 255, 0, 1), Router)?;
    let right = world.add_node("router-right", Addr::new(10, 255, 0, 2), Router)?;
    let (lr, rl) = world.connect("bottleneck", left, right, bottleneck, bottleneck_reverse)?;
    let mut ids = [Vec::new(), Vec::new()];
    for (side, (hosts, router, toward_far_side)) in [(senders, left, lr), (receivers, right, rl)]
        .into_iter()
        .enumerate()
    {
        for host in hosts {
            let id = world.add_boxed_node(&host.name, host.addr, host.node)?;
            let name = format!("access-{}", host.name);
            let (up, down) = world.connect(&name, id, router, access.clone(), access.clone())?;
            world.set_default_route(id, up)?;
            world.add_host_route(router, host.addr, down)?;
            ids[side].push(id);
        }
        world.set_default_route(router, toward_far_side)?;
    }
    let [senders, receivers] = ids;
    Ok(Dumbbell {
        senders,
        receivers,
        left,
        right,
        bottleneck: (lr, rl),
    })
}

/// Leaves around one hub router, each on its own spoke.
#[derive(Clone, Debug)]
pub struct Star {
    pub hub: NodeId,
    pub leaves: Vec<NodeId>,
    /// Leaf-to-hub and hub-to-leaf directions of each spoke.
    pub spokes: Vec<(LinkId, LinkId)>,
}

pub fn star(world: &mut World, leaves: Vec<Endpoint>, spoke: LinkConfig) -> Result<Star, SimError> {
    let hub = world.add_node("hub", Addr::new(10, 254, 0, 1), Router)?;
    let mut star = Star {
        hub,
        leaves: Vec::new(),
        spokes: Vec::new(),
    };
    for leaf in leaves {
        let id = world.add_boxed_node(&leaf.name, leaf.addr, leaf.node)?;
        let (up, down) = world.connect(
            &format!("spoke-{}", leaf.name),
            id,
            hub,
            spoke.clone(),
            spoke.clone(),
        )?;
        world.set_default_route(id, up)?;
        world.add_host_route(hub, leaf.addr, down)?;
        star.leaves.push(id);
        star.spokes.push((up, down));
    }
    Ok(star)
}
