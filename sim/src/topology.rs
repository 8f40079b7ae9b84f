//! Ready-made topologies: point-to-point, dumbbell, star. Each returns the
//! ids it created so a scenario can reach the links (to add faults) and the
//! nodes (to inspect them); every link is also found by name afterwards
//! ([`World::link_by_name`]: `spoke-LEAF`, `access-HOST`, `bottleneck`).
//!
//! [`StarBuilder`] and [`DumbbellBuilder`] shape the same topologies with
//! per-spoke overrides ("every spoke 1 Gbit/s, but the phone's 2 Mbit/s with
//! 2% loss") and chosen router names and addresses. [`star`] and
//! [`dumbbell`] are the builders with every spoke alike. Set-up costs O(1)
//! per node and link (`tests/topology.rs` builds a 10,000-spoke star).
//!
//! What this module deliberately does not do: compute routes for arbitrary
//! graphs. A builder installs the routes its shape needs; anything else is
//! [`World::connect`] plus explicit routes.

use crate::addr::Addr;
use crate::link::{LinkConfig, LinkId};
use crate::world::{Node, NodeId, Router, SimError, World};

/// A node to place: its unique name, address and behaviour.
pub struct Endpoint {
    /// Unique among the world's nodes; keys the node's RNG stream and names its links.
    pub name: String,
    /// Unique among the world's nodes.
    pub addr: Addr,
    /// What the node does with packets and wake-ups.
    pub node: Box<dyn Node>,
}

impl Endpoint {
    /// A node named `name` at `addr` running `node`.
    pub fn new(name: impl Into<String>, addr: Addr, node: impl Node) -> Endpoint {
        Endpoint {
            name: name.into(),
            addr,
            node: Box::new(node),
        }
    }
}

/// The two directions of one spoke or access link: leaf to router (`up`)
/// and router to leaf (`down`).
#[derive(Clone, Debug, PartialEq)]
pub struct Spoke {
    /// Leaf (or host) to router.
    pub up: LinkConfig,
    /// Router to leaf (or host).
    pub down: LinkConfig,
}

impl Spoke {
    /// The same settings both ways.
    pub fn symmetric(config: LinkConfig) -> Spoke {
        Spoke {
            up: config.clone(),
            down: config,
        }
    }
}

/// Two nodes joined by one duplex link.
#[derive(Clone, Copy, Debug)]
pub struct PointToPoint {
    /// The first node.
    pub a: NodeId,
    /// The second node.
    pub b: NodeId,
    /// The direction from `a` to `b`.
    pub a_to_b: LinkId,
    /// The direction from `b` to `a`.
    pub b_to_a: LinkId,
}

/// Adds `a` and `b` and joins them with one duplex link named `A-B`
/// (`a_to_b` and `b_to_a` configure its two directions).
///
/// # Errors
///
/// A duplicate name or address, or an invalid link configuration.
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
    /// The sending hosts, in the order given.
    pub senders: Vec<NodeId>,
    /// The receiving hosts, in the order given.
    pub receivers: Vec<NodeId>,
    /// The router on the senders' side.
    pub left: NodeId,
    /// The router on the receivers' side.
    pub right: NodeId,
    /// Left-to-right and right-to-left directions of the bottleneck.
    pub bottleneck: (LinkId, LinkId),
    /// Host-to-router and router-to-host directions of each sender's access link.
    pub sender_access: Vec<(LinkId, LinkId)>,
    /// The same for each receiver.
    pub receiver_access: Vec<(LinkId, LinkId)>,
}

/// A dumbbell with every access link alike: see [`DumbbellBuilder`].
pub fn dumbbell(
    world: &mut World,
    senders: Vec<Endpoint>,
    receivers: Vec<Endpoint>,
    access: LinkConfig,
    bottleneck: LinkConfig,
    bottleneck_reverse: LinkConfig,
) -> Result<Dumbbell, SimError> {
    let mut builder = DumbbellBuilder::new(access, bottleneck, bottleneck_reverse);
    for sender in senders {
        builder = builder.sender(sender);
    }
    for receiver in receivers {
        builder = builder.receiver(receiver);
    }
    builder.build(world)
}

/// Builds a dumbbell: senders on access links to `router-left`
/// (10.255.0.1), a `bottleneck` link to `router-right` (10.255.0.2),
/// receivers on access links beyond it. Every access link (`access-HOST`)
/// has the default settings unless its host was added with an override.
///
/// ```
/// use sim::topology::{DumbbellBuilder, Endpoint, Spoke};
/// use sim::{Addr, Duration, LinkConfig, Router, World, WorldConfig};
///
/// let mut world = World::new(WorldConfig::new(1));
/// let fast = LinkConfig::new(1_000_000_000, Duration::from_millis(1));
/// let slow = LinkConfig::new(10_000_000, Duration::from_millis(20));
/// let d = DumbbellBuilder::new(fast.clone(), slow.clone(), slow)
///     .sender(Endpoint::new("s1", Addr::new(10, 0, 0, 1), Router))
///     .sender_with(
///         Endpoint::new("s2", Addr::new(10, 0, 0, 2), Router),
///         Spoke::symmetric(fast.clone().with_loss(0.01)),
///     )
///     .receiver(Endpoint::new("r1", Addr::new(10, 0, 1, 1), Router))
///     .build(&mut world)
///     .unwrap();
/// assert_eq!(world.link_by_name("bottleneck"), Some(d.bottleneck));
/// let (s2_up, _) = world.link_by_name("access-s2").unwrap();
/// assert_eq!(world.link_config(s2_up).unwrap().loss, 0.01);
/// ```
pub struct DumbbellBuilder {
    routers: [(String, Addr); 2],
    access: Spoke,
    bottleneck: LinkConfig,
    bottleneck_reverse: LinkConfig,
    /// Senders, then receivers, each with its access override.
    sides: [Vec<(Endpoint, Option<Spoke>)>; 2],
}

impl DumbbellBuilder {
    /// `access` is every access link's default (both ways); `bottleneck`
    /// runs left to right, `bottleneck_reverse` right to left.
    pub fn new(
        access: LinkConfig,
        bottleneck: LinkConfig,
        bottleneck_reverse: LinkConfig,
    ) -> DumbbellBuilder {
        DumbbellBuilder {
            routers: [
                ("router-left".into(), Addr::new(10, 255, 0, 1)),
                ("router-right".into(), Addr::new(10, 255, 0, 2)),
            ],
            access: Spoke::symmetric(access),
            bottleneck,
            bottleneck_reverse,
            sides: [Vec::new(), Vec::new()],
        }
    }

    /// Names and addresses for the two routers instead of the defaults.
    pub fn routers(
        mut self,
        left: (impl Into<String>, Addr),
        right: (impl Into<String>, Addr),
    ) -> DumbbellBuilder {
        self.routers = [(left.0.into(), left.1), (right.0.into(), right.1)];
        self
    }

    /// A sender on a default access link.
    pub fn sender(mut self, host: Endpoint) -> DumbbellBuilder {
        self.sides[0].push((host, None));
        self
    }

    /// A sender on its own access link (`up` is host to router).
    pub fn sender_with(mut self, host: Endpoint, access: Spoke) -> DumbbellBuilder {
        self.sides[0].push((host, Some(access)));
        self
    }

    /// A receiver on a default access link.
    pub fn receiver(mut self, host: Endpoint) -> DumbbellBuilder {
        self.sides[1].push((host, None));
        self
    }

    /// A receiver on its own access link (`up` is host to router).
    pub fn receiver_with(mut self, host: Endpoint, access: Spoke) -> DumbbellBuilder {
        self.sides[1].push((host, Some(access)));
        self
    }

    /// Adds the routers, the bottleneck, then each side's hosts in the
    /// order given, with their routes.
    pub fn build(self, world: &mut World) -> Result<Dumbbell, SimError> {
        let [(left_name, left_addr), (right_name, right_addr)] = self.routers;
        let left = world.add_node(&left_name, left_addr, Router)?;
        let right = world.add_node(&right_name, right_addr, Router)?;
        let (lr, rl) = world.connect(
            "bottleneck",
            left,
            right,
            self.bottleneck,
            self.bottleneck_reverse,
        )?;
        let mut ids = [Vec::new(), Vec::new()];
        let mut access_ids = [Vec::new(), Vec::new()];
        let [senders, receivers] = self.sides;
        for (side, (hosts, router, toward_far_side)) in
            [(senders, left, lr), (receivers, right, rl)]
                .into_iter()
                .enumerate()
        {
            for (host, spoke) in hosts {
                let spoke = spoke.unwrap_or_else(|| self.access.clone());
                let id = world.add_boxed_node(&host.name, host.addr, host.node)?;
                let name = format!("access-{}", host.name);
                let (up, down) = world.connect(&name, id, router, spoke.up, spoke.down)?;
                world.set_default_route(id, up)?;
                world.add_host_route(router, host.addr, down)?;
                ids[side].push(id);
                access_ids[side].push((up, down));
            }
            world.set_default_route(router, toward_far_side)?;
        }
        let [senders, receivers] = ids;
        let [sender_access, receiver_access] = access_ids;
        Ok(Dumbbell {
            senders,
            receivers,
            left,
            right,
            bottleneck: (lr, rl),
            sender_access,
            receiver_access,
        })
    }
}

/// Leaves around one hub router, each on its own spoke.
#[derive(Clone, Debug)]
pub struct Star {
    /// The router every spoke ends at.
    pub hub: NodeId,
    /// The leaves, in the order given.
    pub leaves: Vec<NodeId>,
    /// Leaf-to-hub and hub-to-leaf directions of each spoke.
    pub spokes: Vec<(LinkId, LinkId)>,
}

/// A star with every spoke alike: see [`StarBuilder`].
pub fn star(world: &mut World, leaves: Vec<Endpoint>, spoke: LinkConfig) -> Result<Star, SimError> {
    let mut builder = StarBuilder::new(spoke);
    for leaf in leaves {
        builder = builder.leaf(leaf);
    }
    builder.build(world)
}

/// Builds a star: a hub router (`hub`, 10.254.0.1 unless renamed) and
/// leaves, each on its own spoke `spoke-LEAF` with the default settings
/// unless the leaf was added with an override.
///
/// ```
/// use sim::topology::{Endpoint, Spoke, StarBuilder};
/// use sim::{Addr, Duration, LinkConfig, Router, World, WorldConfig};
///
/// let mut world = World::new(WorldConfig::new(1));
/// let lan = LinkConfig::new(1_000_000_000, Duration::from_micros(100));
/// let phone = LinkConfig::new(2_000_000, Duration::from_millis(40));
/// let star = StarBuilder::new(lan)
///     .leaf(Endpoint::new("server", Addr::new(10, 0, 0, 1), Router))
///     .leaf_with(
///         Endpoint::new("phone", Addr::new(10, 0, 0, 2), Router),
///         Spoke::symmetric(phone),
///     )
///     .build(&mut world)
///     .unwrap();
/// let (phone_up, _) = world.link_by_name("spoke-phone").unwrap();
/// assert_eq!(phone_up, star.spokes[1].0);
/// assert_eq!(world.link_config(phone_up).unwrap().rate_bps, 2_000_000);
/// ```
pub struct StarBuilder {
    hub: (String, Addr),
    spoke: Spoke,
    leaves: Vec<(Endpoint, Option<Spoke>)>,
}

impl StarBuilder {
    /// `spoke` is every spoke's default, both ways.
    pub fn new(spoke: LinkConfig) -> StarBuilder {
        StarBuilder {
            hub: ("hub".into(), Addr::new(10, 254, 0, 1)),
            spoke: Spoke::symmetric(spoke),
            leaves: Vec::new(),
        }
    }

    /// A name and address for the hub instead of the defaults.
    pub fn hub(mut self, name: impl Into<String>, addr: Addr) -> StarBuilder {
        self.hub = (name.into(), addr);
        self
    }

    /// A leaf on a default spoke.
    pub fn leaf(mut self, leaf: Endpoint) -> StarBuilder {
        self.leaves.push((leaf, None));
        self
    }

    /// A leaf on its own spoke (`up` is leaf to hub).
    pub fn leaf_with(mut self, leaf: Endpoint, spoke: Spoke) -> StarBuilder {
        self.leaves.push((leaf, Some(spoke)));
        self
    }

    /// Adds the hub, then each leaf and its spoke in the order given, with routes.
    pub fn build(self, world: &mut World) -> Result<Star, SimError> {
        let hub = world.add_node(&self.hub.0, self.hub.1, Router)?;
        let mut star = Star {
            hub,
            leaves: Vec::with_capacity(self.leaves.len()),
            spokes: Vec::with_capacity(self.leaves.len()),
        };
        for (leaf, spoke) in self.leaves {
            let spoke = spoke.unwrap_or_else(|| self.spoke.clone());
            let id = world.add_boxed_node(&leaf.name, leaf.addr, leaf.node)?;
            let (up, down) = world.connect(
                &format!("spoke-{}", leaf.name),
                id,
                hub,
                spoke.up,
                spoke.down,
            )?;
            world.set_default_route(id, up)?;
            world.add_host_route(hub, leaf.addr, down)?;
            star.leaves.push(id);
            star.spokes.push((up, down));
        }
        Ok(star)
    }
}
