@codex @allure.label.epic:Codex_storage @allure.label.story:Hung_nodes @use.with_node_control=true
Feature: A Codex download rides out a node that hangs
  As a Codex user
  I want a download to go on when a node that holds the file stops answering
  So that one hung machine neither spoils nor stalls what I fetch

  A hung node is frozen in place, as a stalled host is: its connections stay open, but it
  answers nothing. A node asks for a block it lacks round after round (about 2 seconds a
  round), each time of a holder picked at random, so a hung holder costs a round and the next
  round asks again; with 3000 rounds by default, a download from a hung sole holder waits for it.
  The files are larger than what a node fetches ahead of its reader (64 MiB), so the hang comes
  while the downloading node still lacks most of the file.

  Scenario: A download goes on from the other holder while one holder hangs
    Given a Codex network of 3 nodes
    And Alice has uploaded a 200 MiB file to node A
    And Bob has downloaded it from node B through the network stream
    When Carol downloads it from node C through the network stream while node A hangs after 1 MiB
    Then Carol gets an identical SHA-256 within 60 seconds
    When node A wakes up
    Then node A still answers

  Scenario: A download from a hung sole holder waits for it and completes when it wakes up
    Given a Codex network of 2 nodes
    And Alice has uploaded a 200 MiB file to node A
    When Bob downloads it from node B through the network stream while node A hangs after 1 MiB
    Then Bob's download keeps waiting for 5 seconds
    When node A wakes up
    Then Bob gets an identical SHA-256 within 60 seconds
