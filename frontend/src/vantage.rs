//! Where a trace runs from: the server itself, one of its agents (`tracemap agent`, reached over NATS), or several
//! of them at once. The page lists the online agents with their places ([`label`]) and sends the chosen ones as the
//! request's `from` (the server itself, when also chosen, gets a request of its own).

use leptos::prelude::*;
use tracemap_shared::AgentInfo;

/// The vantage points chosen for the next trace and the agents to choose from; provided through context by the
/// app, read by the form when it starts a trace.
#[derive(Debug, Clone, Copy)]
pub struct Vantage {
    /// Whether the server itself traces too (it does whenever no agent is chosen).
    pub here: RwSignal<bool>,
    /// The chosen agents' names, in the order they were chosen.
    pub chosen: RwSignal<Vec<String>>,
    /// The agents the server knows, as `GET /api/agents` last said.
    pub agents: RwSignal<Vec<AgentInfo>>,
}

impl Vantage {
    /// Nothing chosen, no agents known yet.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Vantage { here: RwSignal::new(true), chosen: RwSignal::new(Vec::new()), agents: RwSignal::new(Vec::new()) }
    }

    /// The request's `from` for the current choice.
    pub fn from(&self) -> Vec<String> {
        self.chosen.get_untracked()
    }

    /// Whether the server itself traces too.
    pub fn also_here(&self) -> bool {
        self.here.get_untracked() || self.chosen.with_untracked(Vec::is_empty)
    }
}

/// How an agent is offered: its name, then its place when it has one (`sydney — Sydney`).
pub fn label(agent: &AgentInfo) -> String {
    match agent.location.as_ref().and_then(|g| g.city.clone().or_else(|| g.country.clone())) {
        Some(place) if !place.eq_ignore_ascii_case(&agent.name) => format!("{} — {place}", agent.name),
        _ => agent.name.clone(),
    }
}

/// The agents worth offering: online ones, by name.
pub fn offered(agents: &[AgentInfo]) -> Vec<AgentInfo> {
    let mut online: Vec<AgentInfo> = agents.iter().filter(|a| a.online).cloned().collect();
    online.sort_by(|a, b| a.name.cmp(&b.name));
    online
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracemap_shared::Geo;

    fn agent(name: &str, city: Option<&str>, online: bool) -> AgentInfo {
        let location = city.map(|c| Geo { city: Some(c.to_owned()), ..Geo::at(0.0, 0.0) });
        AgentInfo { name: name.into(), location, online, ..AgentInfo::default() }
    }

    #[test]
    fn agents_are_offered_online_by_name_with_their_places() {
        let agents = [agent("zurich", None, true), agent("sydney", Some("Sydney"), true), agent("gone", None, false)];
        let offered = offered(&agents);
        assert_eq!(offered.iter().map(label).collect::<Vec<_>>(), ["sydney", "zurich"]);
        assert_eq!(label(&agent("lab", Some("Auckland"), true)), "lab — Auckland");
    }
}
